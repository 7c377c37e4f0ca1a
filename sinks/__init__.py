"""The sinks of the interactions topic: `personalize/` (PutEvents) and `history/` (bulk-import CSV).

Each is a service of its own, with its settings and metrics; neither imports the other.
"""
