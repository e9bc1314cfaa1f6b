"""App Store Server Notifications V2: one strategy per notificationType (+ subtype)."""
