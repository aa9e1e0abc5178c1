"""Tables and figures: one summariser, shared figure style, one module of figures per experiment."""
