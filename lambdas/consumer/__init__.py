"""The notification consumer Lambda: SQS FIFO batch -> strategy -> entitlement update in PostgreSQL."""
