"""The durable outbox (:mod:`~dispatcher.outbox.queue`): what must still be
delivered to agencies and citizens, claimed safely by any number of workers;
and one drain of it, step by step (load, record each outcome as it returns,
write them), plus delivery reports of sent replies."""
