"""Google Play Real-time Developer Notifications: strategies by kind, type code and subscription state."""
