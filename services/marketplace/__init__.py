"""The marketplace: listings, search, sales and installs, reviews, sellers' figures."""
