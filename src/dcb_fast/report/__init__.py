"""Reports: the terminal rendering of summaries (``text``); the HTML report comes later."""
