"""The notification receiver: verify Apple and Google notifications, enqueue them on SQS FIFO."""
