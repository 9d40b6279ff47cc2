"""The docs' Markdown pages are doctests (``--doctest-glob=*.md``); nothing else here is."""

# conf.py builds the generated pages on import; the build outputs and the generated pages
# are not sources; render_kl_metric.py is a script that trains a model.
collect_ignore = ["conf.py", "render_kl_metric.py"]
collect_ignore_glob = ["_build/*", "_generated/*"]
