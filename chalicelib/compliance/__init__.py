"""X batch compliance: learn which stored tweets X has since deleted, protected or suspended."""
