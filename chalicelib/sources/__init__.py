"""Tweet sources behind one small interface; chosen by ``TWEETLAKE_SOURCE``."""
