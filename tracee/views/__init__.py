"""HTML pages: the customer's tracking page, the embed widget, error pages."""
