"""Outbound: the send use case, the delivery engine, the ledger and the transports.

Rule: every message leaves through the engine and its ledger (exactly once); a transport is one
small class in transports/ registered in TRANSPORTS.
"""
