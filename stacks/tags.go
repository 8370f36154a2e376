package stacks

// ImageTag is the image tag an environment deploys by default: dev -> dev,
// prod -> latest, any other -> its name. The Pulumi program sets APP_TAG
// to it and `shoal deploy` resolves it when no --tag is given.
func ImageTag(env string) string {
	if env == "prod" {
		return "latest"
	}
	return env
}
