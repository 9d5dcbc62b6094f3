# Terraform and provider floors. The AWS provider 5.x line is the one whose
# Firehose, Glue and Athena arguments these files use; 6.x renames some of them,
# so the upper bound is deliberate (bump it after reading its upgrade guide).
terraform {
  required_version = ">= 1.5.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40, < 6.0"
    }
  }
}

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      project    = var.project
      stage      = var.stage
      managed_by = "terraform"
    }
  }
}
