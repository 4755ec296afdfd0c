"""Agents by email: notifications with a per-agent reply address, agents'
replies and commands, and how agent mail is authenticated (docs/agents.md)."""
