"""Sources: one module per external system, turning HTTP/JSON or CLI output into domain records.

Nothing here imports ``collector`` or ``metrics``; the collector wires sources to the store.
"""
