"""The plugin machinery: the hook contract (``spec``), component registries, the plugin
host that loads entry points, and attribution of faults raised inside plugin code.
"""
