"""Code both notification Lambdas use: the SQS message contract, logging, metrics, errors."""
