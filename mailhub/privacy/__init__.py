"""Privacy: what people may ask of mailhub about their data, and mailhub's part in honouring it."""
