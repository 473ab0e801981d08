"""The ``jepa`` command line and the plugin scaffold."""
