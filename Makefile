# Two commands: `make run` and `make test`. Both create the virtualenv first.
PYTHON ?= python3
VENV ?= .venv
STAMP := $(VENV)/.installed-stamp

.PHONY: run test bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	-$(VENV)/bin/postdesk faq index  # the example FAQ in ./faq/ ([faq] path), suggested in acknowledgements
	$(VENV)/bin/postdesk serve

test: $(STAMP)
	$(VENV)/bin/mypy  # types of src/ first ([tool.mypy] in pyproject.toml)
	$(VENV)/bin/pytest

bench: $(STAMP)
	$(VENV)/bin/python bench/ingest.py
	$(VENV)/bin/python bench/pipeline.py
	$(VENV)/bin/python bench/scale.py

clean:
	rm -rf $(VENV) postdesk.db postdesk.db-wal postdesk.db-shm outbox
