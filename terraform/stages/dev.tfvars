# A throwaway AWS stage for trying the pipeline; the local mode needs no AWS at all.
stage                        = "dev"
region                       = "us-east-1"
stream_mode                  = "PROVISIONED"
stream_shard_count           = 1
stream_retention_hours       = 24
firehose_buffer_interval_s   = 60
raw_buffer_interval_s        = 60
athena_bytes_scanned_cutoff  = 1073741824
log_retention_days           = 7
quarantine_expiration_days   = 14
dynamodb_deletion_protection = false
secret_recovery_window_days  = 0
ingest_silence_alarm         = false
alarm_email                  = null
