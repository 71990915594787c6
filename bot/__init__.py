"""The SIPAS chat bot application: settings, storage, channels and the command line."""
