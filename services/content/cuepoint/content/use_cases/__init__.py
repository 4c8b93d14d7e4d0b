"""What a user can make content do: one module per aggregate or workflow."""
