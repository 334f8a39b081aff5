"""Behaviors that make content sendable to citizens' messengers."""
