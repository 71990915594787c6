"""Channel-independent handling of what citizens type and tap."""
