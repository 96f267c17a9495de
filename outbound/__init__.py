"""Outbound network access for anything a tenant points us at: the guard (`outbound.guard`) that
lets flows' HTTP calls, integrator webhooks and organizations' SMTP servers reach only public
addresses. It imports nothing of the project, so models, activities and the API all use it."""
