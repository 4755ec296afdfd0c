"""Operations: the operator's view of the queues, metrics, the health check."""
