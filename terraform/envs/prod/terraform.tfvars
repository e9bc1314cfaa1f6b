# The production migration account; replace it (and the values in main.tf) before the first apply.
region              = "us-east-1"
allowed_account_ids = ["222222222222"]
