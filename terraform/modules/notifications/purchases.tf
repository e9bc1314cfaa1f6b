################################################################################
# Client purchase routes: the app posts a signed Apple transaction or a Google
# purchase token after a purchase or restore; the receiver verifies it with the
# same code as notifications and enqueues it to the purchase's FIFO group.
################################################################################

resource "aws_apigatewayv2_authorizer" "purchases" {
  count = var.enable_purchase_routes && var.purchase_jwt_issuer != null ? 1 : 0

  api_id           = aws_apigatewayv2_api.this.id
  authorizer_type  = "JWT"
  identity_sources = ["$request.header.Authorization"]
  name             = "${var.name}-app-users"

  jwt_configuration {
    issuer   = var.purchase_jwt_issuer
    audience = var.purchase_jwt_audiences
  }
}

resource "aws_apigatewayv2_route" "purchases" {
  for_each = var.enable_purchase_routes ? { apple = var.apple_purchase_route_key, google = var.google_purchase_route_key } : {}

  #checkov:skip=CKV_AWS_309:Authorization is the app's JWT when purchase_jwt_issuer is set; without it the body itself is the proof (an Apple-signed transaction, or a token Play must confirm), and a purchase only ever grants the account the store names.
  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value
  target             = "integrations/${aws_apigatewayv2_integration.receiver.id}"
  authorization_type = var.purchase_jwt_issuer != null ? "JWT" : "NONE"
  authorizer_id      = var.purchase_jwt_issuer != null ? aws_apigatewayv2_authorizer.purchases[0].id : null
}
