"""The adversarial rehearsal: the whole cutover, many times, under faults, judged by its history."""
