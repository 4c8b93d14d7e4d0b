"""analytics' rules, framework-free: the audit chain, what a client event may carry, who sees which
dashboard, and how an event moves a read model."""
