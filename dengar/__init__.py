"""The application shell: wiring, runner and the ``dengar`` command."""
