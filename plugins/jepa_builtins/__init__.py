"""The built-in plugins of jepa-framework, loaded through the public entry-point group."""
