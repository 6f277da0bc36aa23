"""The only writers. Every function takes an Actor, checks its permission, writes the change and its audit
entry in one transaction, and publishes events after commit (see transaction.py)."""
