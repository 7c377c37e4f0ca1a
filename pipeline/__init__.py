"""The top layer: `pipeline <command>`, composing the services; nothing imports it."""
