# The production application's account; replace it (and the values in main.tf) before the first apply.
region              = "us-east-1"
allowed_account_ids = ["333333333333"]
