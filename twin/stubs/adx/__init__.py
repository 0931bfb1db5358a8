"""AWS Data Exchange stand-in: data sets, revisions, S3 import/export jobs and data grants, speaking the
rest-json protocol of botocore's `dataexchange` model (state in `models`, HTTP shapes in `responses`,
routes in `urls`)."""
