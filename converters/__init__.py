"""Per-target converters behind one registry (base.py: options, the registry, verification and the pipeline of one
artifact; `get_converter(name)` imports a target's module on demand), the export plan (plan.py) and its pipeline
(export.py). Nothing is imported here, so the command line's view of them (targets.py, plan.py) loads no torch."""
