# One command each: `make demo` (set up + run the demo), `make test` (set up + run the tests).
.PHONY: setup demo test test-fast bench bench-everything study study-quick compare screenshot clean

VENV := .venv/bin

setup:
	./scripts/setup.sh

demo: setup
	$(VENV)/napari-ruac demo --out demo_output

test: setup
	$(VENV)/python -m pytest -q -ra

test-fast: setup
	$(VENV)/python -m pytest -q -ra -m "not slow and not viewer"

bench: setup
	$(VENV)/python benchmarks/bench_ruac_vs_sam2.py
	$(VENV)/python benchmarks/bench_volume.py

# Segment everything (issue 16): detection F1, failure recall, time on twelve held-out scenes per set and the real image.
bench-everything: setup
	OMP_NUM_THREADS=1 $(VENV)/python benchmarks/bench_everything.py --images 12 --rss-size 0

# The uncertainty study (docs/shift_study.md): every method on shifted scenes and real nuclei sets.
# Full run: about an hour on a busy 2-core CPU. STUDY_ARGS="--baseline runs/.../model.json" adds ruac-baseline.
study: setup
	OMP_NUM_THREADS=1 $(VENV)/python scripts/evaluate_uncertainty.py --out runs/uncertainty_study --docs docs $(STUDY_ARGS)

study-quick: setup
	OMP_NUM_THREADS=1 $(VENV)/python scripts/evaluate_uncertainty.py --quick $(STUDY_ARGS)

# Before a new model ships: the candidates against the shipped one on the same held-out data (scripts/compare_models.py).
# make compare MODELS="ruac-micro runs/micro_ruac3/export/model.json"
MODELS ?= ruac-micro
compare: setup
	OMP_NUM_THREADS=1 $(VENV)/python scripts/compare_models.py $(MODELS) --out runs/compare

screenshot: setup
	xvfb-run -a -s "-screen 0 1920x1200x24" $(VENV)/python docs/make_screenshot.py

clean:
	rm -rf demo_output build dist .pytest_cache
