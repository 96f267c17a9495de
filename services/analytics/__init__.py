"""Analytics: hourly rollups kept current, reports and exports read from them."""
