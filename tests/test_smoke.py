def test_create_and_read(app, tenant, create):
    created = create()
    got = app.get(f"/api/v1/trackers/{created['id']}/", headers=tenant.headers).json
    assert got["name"] == "Order #1234 - Blue Vase"
