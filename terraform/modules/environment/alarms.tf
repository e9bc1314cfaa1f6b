################################################################################
# The dual-write outbox: rows the application could not write to DynamoDB wait there until the
# drainer replays them. The drainer publishes the age of the oldest row per table; an old row
# means DynamoDB writes are failing and the dual-write gate (60 s) will refuse.
################################################################################

resource "aws_cloudwatch_metric_alarm" "outbox_oldest_age" {
  for_each = toset(var.datasets)

  alarm_name          = "${local.name}-outbox-oldest-age-${each.value}"
  alarm_description   = "Outbox rows of ${each.value} are older than ${var.outbox_max_age_seconds}s: dual writes to DynamoDB are failing or the drainer is stopped. Check `ops repair outbox --dry-run` and the application's DynamoDB errors."
  namespace           = var.metrics_namespace
  metric_name         = "OutboxOldestAgeSeconds"
  dimensions          = { Table = each.value }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = 2
  threshold           = var.outbox_max_age_seconds
  comparison_operator = "GreaterThanThreshold"
  # No data: dual writes are not on yet (or no outbox row exists); not an old row.
  treat_missing_data = "notBreaching"
  alarm_actions      = [aws_sns_topic.alarms.arn]
  ok_actions         = [aws_sns_topic.alarms.arn]

  tags = local.tags
}
