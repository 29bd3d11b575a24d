"""The swarm: evacuees, infiltrators and the ledger, driven by Locust."""
