"""Trackers, their steps and events, workflow templates: the domain, free of HTTP."""
