# Production: the defaults in variables.tf are production values; say only what differs.
stage              = "prod"
region             = "us-east-1"
log_retention_days = 90
# alarm_email          = "oncall@example.com"
