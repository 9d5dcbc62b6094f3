"""Everything deployed to Lambda, a folder per side of the data flow.

``envelope`` (the record contract), ``ingest`` (the scheduled function and its
sources), ``consume`` (the Kinesis handler), ``dynamo`` (the DynamoDB model) and
``api`` (the read routes); the modules at the top are shared by all of them.
"""
