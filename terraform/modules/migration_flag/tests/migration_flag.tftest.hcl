mock_provider "aws" {
  source          = "../../tests/mocks"
  override_during = plan
}

run "one_parameter_per_dataset" {
  command = plan

  variables {
    datasets = ["answers", "questions"]
  }

  assert {
    condition     = aws_ssm_parameter.this["answers"].name == "/platform-ops/migration/answers/mode"
    error_message = "The parameter name must be <prefix>/<dataset>/mode, as the ops CLI reads it."
  }

  assert {
    condition     = aws_ssm_parameter.this["questions"].value == "postgres" && length(aws_ssm_parameter.this) == 2
    error_message = "Every dataset starts in postgres mode."
  }

  assert {
    condition     = aws_ssm_parameter.this["answers"].allowed_pattern == null
    error_message = "The value's format belongs to the ops CLI (a mode, later with its generation): SSM must not pin it to bare mode names."
  }

  assert {
    condition     = jsondecode(aws_iam_policy.read[0].policy).Statement[0].Action == ["ssm:GetParameter", "ssm:GetParameters"]
    error_message = "The application's policy grants read access only."
  }
}

run "names_carry_the_environment" {
  command = plan

  variables {
    prefix           = "/platform-ops-staging/migration"
    read_policy_name = "platform-ops-staging-migration-flag-read"
  }

  assert {
    condition     = aws_ssm_parameter.this["answers"].name == "/platform-ops-staging/migration/answers/mode" && aws_iam_policy.read[0].name == "platform-ops-staging-migration-flag-read"
    error_message = "The parameter path and the policy carry the environment's prefix."
  }
}

run "rejects_bad_inputs" {
  command = plan

  variables {
    prefix       = "platform-ops/migration/"
    datasets     = ["Answers"]
    initial_mode = "dynamo"
  }

  expect_failures = [var.prefix, var.datasets, var.initial_mode]
}
