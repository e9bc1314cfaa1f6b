"""AWS Lambda functions of the subscription notification pipeline (they never import `ops`)."""
