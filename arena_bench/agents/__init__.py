"""Agents: the one-method protocol, scripted strategies and model-backed players."""
