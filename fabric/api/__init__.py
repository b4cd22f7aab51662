"""HTTP routes of the datafabric API, one module per resource."""
