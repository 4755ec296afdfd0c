"""Jinja2 mail templates (de, en) and the sandboxed environment that renders them."""
