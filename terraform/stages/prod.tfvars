# Production: the defaults in variables.tf are production values; say only what differs.
stage                  = "prod"
region                 = "us-east-1"
stream_mode            = "ON_DEMAND"
stream_retention_hours = 168
log_retention_days     = 90
# alarm_email          = "oncall@example.com"
